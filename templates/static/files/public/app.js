// Small progressive enhancement: the page works without it.
document.addEventListener('DOMContentLoaded', () => {
  const button = document.getElementById('greet');
  const output = document.getElementById('greeting');
  if (!button || !output) return;
  let clicks = 0;
  button.addEventListener('click', () => {
    clicks += 1;
    output.textContent = `Hello from ${window.location.host} (${clicks}×)`;
  });
});
