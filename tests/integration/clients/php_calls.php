<?php
// A PHP client making calls as an unmodified PHP program would: php-curl
// (libcurl, loaded with its extension under RTLD_DEEPBIND) on one handle,
// so one keep-alive connection, or PHP's own https:// stream wrapper.
// Usage: php php_calls.php MODE PORT CA PLAN_JSON
//   MODE  curl | stream
//   PLAN  [{"path": ..., "body": ..., "framing": ..., "agent": optional}, ...]
//         (agent: sent as x-spaturzu-agent)
// Prints one line per call: status and the SHA-256 of the exact body bytes,
// and for a status of 400 or more the body too, as one JSON string.
[$self, $mode, $port, $ca, $plan] = $argv;
$plan = json_decode($plan, true);
if ($mode === "curl") {
    $ch = curl_init();
    foreach ($plan as $call) {
        $data = "";
        curl_setopt_array($ch, [
            CURLOPT_URL => "https://127.0.0.1:$port" . $call["path"],
            CURLOPT_CAINFO => $ca,
            CURLOPT_HTTP_VERSION => CURL_HTTP_VERSION_1_1,
            CURLOPT_POSTFIELDS => $call["body"],
            CURLOPT_HTTPHEADER => array_merge(["Host: api.openai.com", "Content-Type: application/json",
                                   "Authorization: Bearer sk-test-not-a-key",
                                   "x-test-framing: " . $call["framing"]],
                                   isset($call["agent"]) ? ["x-spaturzu-agent: " . $call["agent"]] : []),
            CURLOPT_WRITEFUNCTION => function ($h, $chunk) use (&$data) { $data .= $chunk; return strlen($chunk); },
        ]);
        if (curl_exec($ch) === false) {
            fwrite(STDERR, curl_error($ch) . "\n");
            exit(1);
        }
        $status = curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
        echo $status, " ", hash("sha256", $data), $status >= 400 ? " " . json_encode($data) : "", "\n";
    }
} else {
    foreach ($plan as $call) {
        $ctx = stream_context_create([
            "http" => ["method" => "POST", "content" => $call["body"], "protocol_version" => 1.1,
                       "header" => "Host: api.openai.com\r\nContent-Type: application/json\r\nConnection: close\r\n" .
                                   "x-test-framing: " . $call["framing"] . "\r\n"],
            "ssl" => ["cafile" => $ca, "peer_name" => "api.openai.com"],
        ]);
        $data = file_get_contents("https://127.0.0.1:$port" . $call["path"], false, $ctx);
        if ($data === false)
            exit(1);
        preg_match('{HTTP/\S+ (\d+)}', $http_response_header[0], $m);
        echo $m[1], " ", hash("sha256", $data), "\n";
    }
}
