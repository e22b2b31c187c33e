// PlacementCore: placeholder until its issue lands.
