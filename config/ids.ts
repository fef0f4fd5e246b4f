import { z } from 'zod';

/**
 * The id patterns, defined once. Workflow code imports this module (through workflow-inputs.ts),
 * so it depends on zod only.
 */

/**
 * Secret, plan, break-glass policy and consumer ids: lower-case letters, digits and dashes, at
 * most 63 characters, starting with a letter or digit. A rotation's workflow id is `rotate/<id>`.
 */
export const ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * Incident ids are chosen by the responder (often a ticket number such as "INC-2041"): letters of
 * either case, digits, dots, underscores and dashes, at most 63 characters.
 */
export const INCIDENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** A string that must be an id ({@link ID_PATTERN}); `message` says what is expected where it is used. */
export const idSchema = (message: string) => z.string().regex(ID_PATTERN, message);

/** A string that must be an incident id ({@link INCIDENT_ID_PATTERN}). */
export const incidentIdSchema = (message: string) => z.string().regex(INCIDENT_ID_PATTERN, message);
