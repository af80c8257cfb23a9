"""The policy steps, one small module each, in the order the chain runs them."""
