# Modules from the registry, from Git and from this repository.

module "vpc" {
  source = "terraform-aws-modules/vpc/aws"
  name   = "main"
}

module "security_group" {
  source  = "terraform-aws-modules/security-group/aws"
  version = "~> 5.1"
}

module "lambda" {
  source = "git::https://github.com/example-org/terraform-lambda.git"
}

module "lambda_tagged" {
  source = "git::https://github.com/example-org/terraform-lambda.git?ref=v1.4.2"
}

module "lambda_tag_ref" {
  source = "git::https://github.com/example-org/terraform-lambda.git?ref=tags/1.4.2"
}

module "lambda_branch" {
  source = "github.com/example-org/terraform-lambda?ref=main"
}

module "buckets" {
  source = "./modules/buckets"
}
