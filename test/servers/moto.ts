// Placeholder until the AWS keystore work lands: reports moto as not started.
export async function startMoto(): Promise<{ endpoint: string; stop: () => Promise<void> } | { error: string }> {
  return { error: 'moto start-up not implemented yet' };
}
