# nginx image, built from the web image, once per AWS region in var.regions.

variable "parent_image" {
  type    = string
  default = "web"
}

variable "regions" {
  type    = list(string)
  default = ["aws-eu-west-1", "aws-us-east-1"]
}

source "null" "region" {
  communicator = "none"
}

build {
  name = "nginx"

  dynamic "source" {
    for_each = var.regions
    labels   = ["null.region"]
    content {
      name = source.value
    }
  }

  provisioner "shell-local" {
    inline = [
      "echo 'nginx ${var.image_version} on ${source.name}, built from ${var.parent_image}'",
      "sleep 0.2",
    ]
  }
}
