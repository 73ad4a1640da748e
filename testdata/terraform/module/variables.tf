variable "zone" {
  type    = string
  default = "eu-west-1a"
}

variable "encrypt_volumes" {
  type    = bool
  default = false
}

variable "rotate_keys" {
  type    = bool
  default = false
}

variable "public_database" {
  type    = bool
  default = true
}

variable "validate_logs" {
  type    = bool
  default = false
}
