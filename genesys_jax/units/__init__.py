"""The library of known units and the five seed designs built from them."""
