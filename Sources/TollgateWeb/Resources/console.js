// Tollgate console: asks before a form marked data-confirm is sent. Nothing else.
document.addEventListener("submit", function (event) {
  var message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) event.preventDefault();
});
