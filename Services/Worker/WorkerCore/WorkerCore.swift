// WorkerCore: placeholder until its issue lands.
