// Transport: placeholder until its issue lands.
