// CircuitCore: placeholder until its issue lands.
