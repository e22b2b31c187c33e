// CircuitLearning: placeholder until its issue lands.
