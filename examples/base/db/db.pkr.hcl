# Database image, built from the base image.

variable "parent_image" {
  type    = string
  default = "base"
}

source "null" "aws-eu-west-1" {
  communicator = "none"
}

source "null" "azure-westeurope" {
  communicator = "none"
}

build {
  sources = [
    "source.null.aws-eu-west-1",
    "source.null.azure-westeurope",
  ]

  provisioner "shell-local" {
    inline = [
      "echo 'db ${var.image_version} on ${source.name}, built from ${var.parent_image}'",
      "sleep 0.2",
    ]
  }
}
