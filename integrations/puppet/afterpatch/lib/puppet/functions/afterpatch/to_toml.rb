# frozen_string_literal: true

require 'json'

# Renders afterpatch's configuration hash (tables of keys) as TOML, the same text the Ansible
# role's template writes: tables and keys sorted, values as JSON, which for strings, numbers,
# booleans and arrays of them is valid TOML. A hash inside a table becomes an inline table.
Puppet::Functions.create_function(:'afterpatch::to_toml') do
  # @param config Tables of keys, e.g. `{ 'restart' => { 'jobs' => 32 } }`.
  # @return [String] The file's text.
  dispatch :to_toml do
    param 'Hash[String[1], Hash[String[1], Data]]', :config
    return_type 'String'
  end

  def to_toml(config)
    out = +"# Managed by Puppet (class afterpatch). afterpatch configuration: docs/configuration.md\n"
    config.keys.sort.each do |table|
      out << "\n[#{key(table)}]\n"
      values = config[table]
      values.keys.sort.each { |k| out << "#{key(k)} = #{value(values[k], "#{table}.#{k}")}\n" }
    end
    out
  end

  private

  def key(name)
    name.match?(%r{\A[A-Za-z0-9_-]+\z}) ? name : JSON.generate(name)
  end

  def value(v, where)
    case v
    when nil
      # TOML has no null: say which key instead of writing a file afterpatch would reject anyway.
      raise Puppet::ParseError, "afterpatch::to_toml: #{where} is undef; TOML has no null value"
    when Hash
      "{ #{v.keys.sort.map { |k| "#{key(k)} = #{value(v[k], "#{where}.#{k}")}" }.join(', ')} }"
    when Array
      "[#{v.each_with_index.map { |e, i| value(e, "#{where}[#{i}]") }.join(', ')}]"
    when Float
      raise Puppet::ParseError, "afterpatch::to_toml: #{where} is not a finite number" unless v.finite?
      JSON.generate(v)
    else
      JSON.generate(v)
    end
  end
end
