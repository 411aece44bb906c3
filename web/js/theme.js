// The colour theme: dark (the default) or light, chosen in the settings and
// kept in this browser; applied before the first paint of the app.

const KEY = 'concord.theme';
export const THEMES = [['dark', 'Dark'], ['light', 'Light']];

export function currentTheme() {
  return localStorage.getItem(KEY) === 'light' ? 'light' : 'dark';
}

export function applyTheme(theme = currentTheme()) {
  document.documentElement.dataset.theme = theme;
  document.querySelector('meta[name="color-scheme"]')?.setAttribute('content', theme);
}

export function setTheme(theme) {
  localStorage.setItem(KEY, theme);
  applyTheme(theme);
}
