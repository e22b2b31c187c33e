// LatticeTesting: placeholder until its issue lands.
