hop_limit = "1"
