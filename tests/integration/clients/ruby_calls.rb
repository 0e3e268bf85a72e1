# A Ruby client making calls as an unmodified Ruby program would: Net::HTTP
# on one keep-alive connection (Ruby's openssl extension, loaded with
# dlopen, calls SSL_write/SSL_read), each answer read whole or, for
# streams, in the segments read_body yields.
# Usage: ruby ruby_calls.rb PORT CA PLAN_JSON
#   PLAN  [{"path": ..., "body": ..., "framing": ..., "stream": bool}, ...]
# Prints one line per call: status and the SHA-256 of the exact body bytes.
require "digest"
require "json"
require "net/http"
require "openssl"

port, ca, plan = ARGV[0].to_i, ARGV[1], JSON.parse(ARGV[2])
http = Net::HTTP.new("127.0.0.1", port)
http.use_ssl = true
http.ca_file = ca
http.verify_hostname = false # the certificate names api.openai.com; we dial 127.0.0.1
http.start do |h|
  plan.each do |call|
    req = Net::HTTP::Post.new(call["path"], "Host" => "api.openai.com", "Content-Type" => "application/json",
                                            "Authorization" => "Bearer sk-test-not-a-key",
                                            "x-test-framing" => call["framing"], "Accept-Encoding" => "gzip")
    req.body = call["body"]
    data = +""
    h.request(req) do |resp|
      if call["stream"]
        resp.read_body { |segment| data << segment }
      else
        data = resp.read_body
      end
      puts "#{resp.code} #{Digest::SHA256.hexdigest(data)}"
    end
  end
end
