/** The baseline of task admission: a workflow that does nothing, started bare with client.workflow.start. */
export async function benchEmptyWorkflow(): Promise<void> {
  // Nothing: the benchmark measures what starting costs.
}
