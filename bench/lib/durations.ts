/** How long each measured load and its warm-up last; `--quick` halves them for a smoke run. */
export interface Durations {
  warmupS: number;
  measureS: number;
  quick: boolean;
}
