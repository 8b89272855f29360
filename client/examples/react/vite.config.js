import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [react()],
  // `npm run dev`: the app's backend (client/examples/token-server.mjs) hands out the tokens.
  server: { host: '127.0.0.1', proxy: { '/herald-token': 'http://127.0.0.1:3000' } },
});
