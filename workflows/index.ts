/** The workflows this worker runs (the bundle's entry). */
export { mediaTaskWorkflow } from './media-task.workflow';
