// ServiceKit: placeholder until its issue lands.
