/**
 * Every `ApplicationFailure` type rotor raises, in one place: workflows, activities, the CLI and
 * tests match on these names, so a typo is a type error rather than a silently unmatched string.
 * No runtime imports: workflow code, activities and clients all load this module.
 */
export const FailureType = {
  AlreadyConfirmed: 'AlreadyConfirmed',
  AlreadyDecided: 'AlreadyDecided',
  AlreadyLifted: 'AlreadyLifted',
  CasConflict: 'CasConflict',
  ConfirmationClosed: 'ConfirmationClosed',
  ConsumerNotConfirmed: 'ConsumerNotConfirmed',
  ConsumerUnhealthy: 'ConsumerUnhealthy',
  ConsumerUnreachable: 'ConsumerUnreachable',
  CredentialRejected: 'CredentialRejected',
  DuplicateApproval: 'DuplicateApproval',
  /** emergency mode requested by a client rather than a revokeAll parent. */
  EmergencyNotAllowed: 'EmergencyNotAllowed',
  /** An identity token was missing, forged, expired, for another audience, or already used. */
  IdentityRefused: 'IdentityRefused',
  IncidentFreeze: 'IncidentFreeze',
  /** A verified identity lacks the group an action needs (e.g. incident responders for revokeAll). */
  NotInGroup: 'NotInGroup',
  InvalidInput: 'InvalidInput',
  InvalidScope: 'InvalidScope',
  MalformedCredential: 'MalformedCredential',
  MintNotStaged: 'MintNotStaged',
  MissingAdminCredential: 'MissingAdminCredential',
  NoActiveGrant: 'NoActiveGrant',
  NotAllowed: 'NotAllowed',
  NotAnApprover: 'NotAnApprover',
  NotAwaitingConfirmation: 'NotAwaitingConfirmation',
  NotReady: 'NotReady',
  NotifyFailed: 'NotifyFailed',
  RevocationFailed: 'RevocationFailed',
  RevocationNotVerified: 'RevocationNotVerified',
  /** A person ended an emergency revocation that kept failing (the endRevocation update). */
  RevocationEndedByPerson: 'RevocationEndedByPerson',
  /** endRevocation sent to a rotation that is not retrying a revocation (or was already ended). */
  RevocationNotRetrying: 'RevocationNotRetrying',
  RollbackConflict: 'RollbackConflict',
  SecretNotSeeded: 'SecretNotSeeded',
  SelfApproval: 'SelfApproval',
  SelfUnfreeze: 'SelfUnfreeze',
  StagedMissing: 'StagedMissing',
  TargetUnavailable: 'TargetUnavailable',
  UnknownConsumer: 'UnknownConsumer',
  UnknownIncident: 'UnknownIncident',
  UnknownPlan: 'UnknownPlan',
  UnknownPolicy: 'UnknownPolicy',
  UnknownSecret: 'UnknownSecret',
  VaultPermissionDenied: 'VaultPermissionDenied',
  VaultRejected: 'VaultRejected',
  VaultSealed: 'VaultSealed',
  VaultUnavailable: 'VaultUnavailable',
  VersionChanged: 'VersionChanged',
  VersionUnavailable: 'VersionUnavailable',
  WouldRevokeCurrent: 'WouldRevokeCurrent',
  WrongConfirmMode: 'WrongConfirmMode',
  WrongProvider: 'WrongProvider',
  WrongVersion: 'WrongVersion',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];
