# Packer loads *.auto.pkrvars.hcl by itself: this list replaces the default in nginx.pkr.hcl.
regions = ["aws-eu-west-1", "aws-us-east-1", "aws-ap-southeast-2"]
