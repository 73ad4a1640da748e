# A module whose settings come from its input variables: judged by the values Terraform gives
# them, the defaults in variables.tf overridden by terraform.tfvars.

resource "aws_ebs_volume" "data" {
  availability_zone = var.zone
  size              = 100
  encrypted         = var.encrypt_volumes
}

resource "aws_kms_key" "data" {
  description         = "data"
  enable_key_rotation = var.rotate_keys
}

resource "aws_db_instance" "app" {
  engine              = "postgres"
  instance_class      = "db.t3.micro"
  allocated_storage   = 20
  storage_encrypted   = true
  publicly_accessible = "${var.public_database}"
}

locals {
  validate_logs = var.validate_logs
}

resource "aws_cloudtrail" "main" {
  name                       = "main"
  s3_bucket_name             = "example-trail"
  enable_log_file_validation = local.validate_logs
}
