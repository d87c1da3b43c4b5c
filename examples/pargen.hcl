# Settings for `pargen render` and `pargen exec` on this tree; the command line wins.

# Pipelines with this id never overlap on one machine (the default derives one from the
# git remote, which differs between the clones CI makes of this repository).
pipeline_id = "pargen-examples"
jobs        = 3
grace       = "10m"

# At most two builds talking to the same (pretend) cloud at once, across every pipeline
# of this user on this machine.
group "aws" {
  names = ["*aws-*"]
  limit = 2
}
