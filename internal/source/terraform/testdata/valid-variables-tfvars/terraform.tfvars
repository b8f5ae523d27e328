tokens    = "optional"
hop_limit = 3
