/** One reason an event was rejected: where (JSON pointer), which rule, and a sentence a person can act on. */
export interface EventError {
  pointer: string;
  keyword: string;
  message: string;
}
