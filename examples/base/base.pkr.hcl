# The base image every other image here is built from, in three clouds/regions.
# Each null source stands in for a real builder (amazon-ebs, azure-arm).

source "null" "aws-eu-west-1" {
  communicator = "none"
}

source "null" "aws-us-east-1" {
  communicator = "none"
}

source "null" "azure-westeurope" {
  communicator = "none"
}

build {
  sources = [
    "source.null.aws-eu-west-1",
    "source.null.aws-us-east-1",
    "source.null.azure-westeurope",
  ]

  provisioner "shell-local" {
    inline = [
      "echo 'base ${var.image_version} (${var.owner}) on ${source.name}'",
      "sleep 0.2",
    ]
  }
}
