// Client: placeholder until its issue lands.
