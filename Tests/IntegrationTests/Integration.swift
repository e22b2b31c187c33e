import Testing

/// Every integration suite nests here and runs one test at a time: each starts real processes,
/// and run side by side they would load a 2-core machine enough to skew other targets' timing tests.
@Suite(.serialized) enum Integration {}
