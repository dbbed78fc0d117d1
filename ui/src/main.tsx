import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { apiToken } from "./api/client";
import { App } from "./components/App";
import "./styles.css";

apiToken(); // take ?token= out of the address bar before anything renders

const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root");
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
