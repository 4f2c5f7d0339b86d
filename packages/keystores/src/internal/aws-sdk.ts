/**
 * The AWS SDK is an optional peer dependency of `@kes/keystores`: an install that
 * never uses the AWS Secrets Manager store does not download it. This module names
 * the package and turns a failure to load it into an error that says what to do.
 */

/** The package the AWS Secrets Manager key store loads on first use. */
export const AWS_SDK_PACKAGE = '@aws-sdk/client-secrets-manager';

function field(err: unknown, key: string): unknown {
  return typeof err === 'object' && err !== null ? (err as Record<string, unknown>)[key] : undefined;
}

/**
 * True if `err` says that {@link AWS_SDK_PACKAGE} itself is not installed, as opposed
 * to a broken install of it (a missing dependency of the SDK names another package).
 */
export function isAwsSdkMissing(err: unknown): boolean {
  const code = field(err, 'code');
  const message = field(err, 'message');
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && typeof message === 'string' && message.includes(`'${AWS_SDK_PACKAGE}'`);
}

/**
 * The `cause` of the `ERR_KES_KEYSTORE_UNAVAILABLE` error that a call on an AWS store
 * throws when the SDK cannot be loaded. Its first line is what `kes server` prints at
 * its start check, so a missing SDK names the package to install.
 *
 * @example
 * awsSdkLoadError(err).message
 * // "@aws-sdk/client-secrets-manager is not installed: the AWS Secrets Manager key store needs it
 * //  (an optional peer dependency of @kes/keystores); install it with 'npm install @aws-sdk/client-secrets-manager'"
 */
export function awsSdkLoadError(err: unknown): Error {
  if (isAwsSdkMissing(err)) {
    return new Error(
      `${AWS_SDK_PACKAGE} is not installed: the AWS Secrets Manager key store needs it ` +
        `(an optional peer dependency of @kes/keystores); install it with 'npm install ${AWS_SDK_PACKAGE}'`,
    );
  }
  const message = field(err, 'message');
  return new Error(`cannot load ${AWS_SDK_PACKAGE}: ${typeof message === 'string' ? message : String(err)}`);
}
