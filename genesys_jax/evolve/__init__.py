"""Evolution: the store, fitness and selection, the ladder budget, the workers and the controller."""
