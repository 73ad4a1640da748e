rotate_keys = true
