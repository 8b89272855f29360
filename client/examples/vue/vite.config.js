import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [vue()],
  // `npm run dev`: the app's backend (client/examples/token-server.mjs) hands out the tokens.
  server: { host: '127.0.0.1', proxy: { '/herald-token': 'http://127.0.0.1:3000' } },
});
