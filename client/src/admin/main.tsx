/** Renders the admin page; loaded only on `/admin` paths. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import 'uplot/dist/uPlot.min.css';
import '../styles.css';
import './admin.css';
import { AdminApp } from './AdminApp';

export function renderAdmin(root: HTMLElement): void {
  createRoot(root).render(
    <StrictMode>
      <AdminApp />
    </StrictMode>,
  );
}
