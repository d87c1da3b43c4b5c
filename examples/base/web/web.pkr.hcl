# Web server image, built from the base image.

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
  name = "web"

  sources = [
    "source.null.aws-eu-west-1",
    "source.null.azure-westeurope",
  ]

  # A second image from the same source, under its own name.
  source "source.null.aws-eu-west-1" {
    name = "aws-eu-west-1-arm64"
  }

  provisioner "shell-local" {
    inline = [
      "echo 'web ${var.image_version} on ${source.name}, built from ${var.parent_image}'",
      "sleep 0.2",
    ]
  }
}
