/** One reason an event was rejected: where (JSON pointer), which rule, and a sentence a person can act on. */
export interface EventError {
  pointer: string;
  keyword: string;
  message: string;
  /** The schema the value was checked against: `envelope`, `builtin:voice.first_response`, `acme.quote/1-0-0`, an Iglu URI. */
  schema?: string;
}
