/**
 * An enrolment token is a bearer credential that creates nodes: by default it creates one, within a day.
 * Mass provisioning asks for more uses explicitly, and even then within these bounds.
 */
export const DEFAULT_TOKEN_LIFETIME_SECONDS = 86_400;
export const DEFAULT_TOKEN_USES = 1;
export const MAX_TOKEN_LIFETIME_SECONDS = 30 * 86_400;
export const MAX_TOKEN_USES = 10_000;
