resource "aws_s3_bucket" "logs" {
  bucket = "example-logs"
  acl    = "private"

resource "aws_ebs_volume" "data" {
  size = 10
}
