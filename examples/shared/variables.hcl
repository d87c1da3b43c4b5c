# Variables every image in this tree shares. Template directories link this file in as
# variables.pkr.hcl; here it is named *.hcl, which Packer does not load, so shared/ is not
# a template directory of its own.

variable "image_version" {
  type        = string
  default     = "2024.06.1"
  description = "Version stamped on every image built from this tree."
}

variable "owner" {
  type        = string
  default     = "platform-team"
  description = "Team that owns the images."
}
