// The operator (MeshOrg / MeshNode reconcilers, work queue, leader election) is being written
// separately; this entry point exists so the workspace builds and its tests have a project.
export {};
