"""Compression: unstructured masks, structured (channel) pruning, the prune -> fine-tune
loop and the lottery ticket experiment (notes F3:4393-4506)."""
