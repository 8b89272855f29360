import { useConnectionState } from '@herald/react';

// "open", "reconnecting"… as the stream goes: users see when live updates pause.
export function ConnectionStatus() {
  const state = useConnectionState();
  return <small data-testid="connection-state">{state ?? 'connecting'}</small>;
}
