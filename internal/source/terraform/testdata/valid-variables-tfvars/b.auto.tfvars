tokens = "required"
