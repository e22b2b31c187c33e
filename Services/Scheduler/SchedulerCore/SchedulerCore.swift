// SchedulerCore: placeholder until its issue lands.
