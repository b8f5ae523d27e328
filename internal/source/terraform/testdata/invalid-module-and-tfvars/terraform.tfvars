tokens = "required"
hop = timestamp()
