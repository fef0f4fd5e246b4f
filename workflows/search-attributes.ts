import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Custom search attributes that make rotations findable in the Temporal UI. */
export const SECRET_ID = defineSearchAttributeKey('RotorSecretId', SearchAttributeType.KEYWORD);
export const PHASE = defineSearchAttributeKey('RotorPhase', SearchAttributeType.KEYWORD);
export const OUTCOME = defineSearchAttributeKey('RotorOutcome', SearchAttributeType.KEYWORD);

export const ALL_SEARCH_ATTRIBUTES = [SECRET_ID, PHASE, OUTCOME] as const;
