/** Nest token of the process's root pino logger. */
export const ROOT_LOGGER = Symbol('RootLogger');
