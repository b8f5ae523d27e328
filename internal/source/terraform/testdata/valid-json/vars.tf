variable "env" {
  default = "prod"
}

variable "tokens" {
  type    = string
  default = "required"
}
